function sum(xs: number[]): <|cursor|> {
  return 0;
}
<|raw|>
number {
<|expected|>
number
<|end|>
