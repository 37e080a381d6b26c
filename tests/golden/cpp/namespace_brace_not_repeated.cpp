namespace util {
<|cursor|>
}  // namespace util
<|raw|>
int twice(int x) { return 2 * x; }
}  // namespace util

<|expected|>
int twice(int x) { return 2 * x; }
<|end|>
