items.forEach((item) => {
  <|cursor|>
});
<|raw|>
  console.log(item);
});

<|expected|>
console.log(item);
<|end|>
