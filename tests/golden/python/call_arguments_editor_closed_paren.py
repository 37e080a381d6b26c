result = compute(
    <|cursor|>
)
<|raw|>
    alpha=1,
    beta=2)
print(result)
<|expected|>
alpha=1,
    beta=2
<|end|>
