function clamp(x, lo, hi) {
  if (x < lo) {
    <|cursor|>
  }
  return x;
}
<|raw|>
  return -1;
  }
<|expected|>
return -1;
<|end|>
