class Sign {
    int sign(int x) {
        if (x > 0) {
            <|cursor|>
        }
        return 0;
    }
}
<|raw|>
            return 1;
        } else {
            return -1;
        }
<|expected|>
return 1;
<|end|>
