class Counter {
  private n = 0;
  increment(): number {
    <|cursor|>
  }
}
<|raw|>
    return ++this.n;
  }

  reset(): void {

<|expected|>
return ++this.n;
<|end|>
