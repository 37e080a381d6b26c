struct point {
    <|cursor|>
};
<|raw|>
    int x;
    int y;
};

<|expected|>
int x;
    int y;
<|end|>
