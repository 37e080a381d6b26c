fn f(a: i32, b: i32, c: i32) -> i32 {
    let n = (a + b<|cursor|>;
    n
}
<|raw|>
) * c;
<|expected|>
) * c
<|end|>
