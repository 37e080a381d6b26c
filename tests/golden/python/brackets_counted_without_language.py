items = [3, 1, 2]
print(len(<|cursor|>))
<|raw|> language=none
items))

<|expected|>
items
<|end|>
