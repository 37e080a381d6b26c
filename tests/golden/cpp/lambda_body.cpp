auto add = [](int a, int b) {
    <|cursor|>
};
<|raw|>
    return a + b;
};

<|expected|>
return a + b;
<|end|>
