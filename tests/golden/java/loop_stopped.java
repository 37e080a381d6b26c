class Tally {
    int count;
    void bump() {
        <|cursor|>
    }
}
<|raw|>
        count++;
        count++;
        count++;

<|expected|>
count++;
<|end|>
