int sum(int *a, int n) {
    int s = 0;
    for (int i = 0; i < n; i++) {
        <|cursor|>
    }
    return s;
}
<|raw|>
        s += a[i];
    }
    return s;
}
<|expected|>
s += a[i];
<|end|>
