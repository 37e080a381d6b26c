void reset(int *p) {
<|cursor|>
}
<|raw|> language=none
*p = 0;
}

<|expected|>
*p = 0;
<|end|>
