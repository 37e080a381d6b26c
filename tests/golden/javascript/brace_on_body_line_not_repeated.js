const double = (x) => {
  <|cursor|>
};
<|raw|>
  return x * 2; };

<|expected|>
return x * 2;
<|end|>
