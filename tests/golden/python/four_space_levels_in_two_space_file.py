def check(items):
  for item in items:
    <|cursor|>
<|raw|>
    if item:
        print(item)
  return True

<|expected|>
if item:
      print(item)
<|end|>
