fn main() {
    let total = 3;
    println!("{}", <|cursor|>);
}
<|raw|>
total);
<|expected|>
total
<|end|>
