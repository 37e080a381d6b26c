function total(items) {
  <|cursor|>
}
<|raw|>
  let sum = 0;
  for (const item of items) {
    sum += item.
<|expected|>
let sum = 0;
<|end|>
