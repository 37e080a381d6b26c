function setup(): void {
  <|cursor|>
}
<|raw|>
  init();
  init();
  init();

<|expected|>
init();
<|end|>
