fn square(x: i32) -> i32 {
    <|cursor|>
}
<|raw|>
    x * x
}

fn cube(x: i32) -> i32 {
<|expected|>
x * x
<|end|>
