fn main() {
    <|cursor|>
}
<|raw|>
    println!("tick");
    println!("tick");
    println!("tick");

<|expected|>
println!("tick");
<|end|>
