fn name(n: u8) -> &'static str {
    match n {
        <|cursor|>
    }
}
<|raw|>
        0 => "zero",
        1 => "one",
        _ => "many",
    }
}
<|expected|>
0 => "zero",
        1 => "one",
        _ => "many",
<|end|>
