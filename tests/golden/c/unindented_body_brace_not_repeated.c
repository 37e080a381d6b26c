void reset(int *p) {
<|cursor|>
}
<|raw|>
*p = 0;
}

<|expected|>
*p = 0;
<|end|>
