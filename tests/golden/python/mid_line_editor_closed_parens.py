values = [1, 2, 3]
print(sum(<|cursor|>))
<|raw|>
values))

<|expected|>
values
<|end|>
