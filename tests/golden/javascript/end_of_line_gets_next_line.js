function isEven(n) {<|cursor|>
<|raw|>

  return n % 2 === 0;
}

<|expected|>

  return n % 2 === 0;
<|end|>
