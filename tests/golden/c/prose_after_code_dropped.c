int square(int x) {
    <|cursor|>
}
<|raw|>
    return x * x;
This squares x.
}
<|expected|>
return x * x;
<|end|>
