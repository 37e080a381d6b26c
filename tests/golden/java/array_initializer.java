class Data {
    int[] xs = {<|cursor|>};
}
<|raw|>
1, 2, 3};
<|expected|>
1, 2, 3
<|end|>
