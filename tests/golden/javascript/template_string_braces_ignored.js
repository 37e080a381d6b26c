function greet(name) {
  <|cursor|>
  return message;
}
<|raw|>
  const message = `Hello, ${name}`;
  return message;
}
<|expected|>
const message = `Hello, ${name}`;
<|end|>
