fn main() {
    let f = |x: i32| { <|cursor|> };
}
<|raw|>
x + 1 };
<|expected|>
x + 1
<|end|>
