fn main() {
    let v = vec![<|cursor|>];
}
<|raw|>
1, 2, 3];
<|expected|>
1, 2, 3
<|end|>
