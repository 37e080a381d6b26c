function walk(node) {
  <|cursor|>
}
<|raw|>
  if (node.left) {
    walk(node.left);
  }
  visit(node);
}

<|expected|>
if (node.left) {
    walk(node.left);
  }
  visit(node);
<|end|>
