int square(int x) {
    <|cursor|>
}
<|raw|>
    return x * x;
}

int cube(int x) {
<|expected|>
return x * x;
<|end|>
