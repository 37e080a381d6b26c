function clamp(x, lo, hi) {
  if (x < lo) {
    <|cursor|>
  }
  return x;
}
<|raw|>
    return lo;
  }
  if (x > hi) {
    return hi;
  }

<|expected|>
return lo;
<|end|>
