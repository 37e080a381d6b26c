prices = [1.5, 2.25]
total = round(sum(<|cursor|>)
<|raw|>
prices), 2)

<|expected|>
prices), 2
<|end|>
