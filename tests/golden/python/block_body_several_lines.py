def mean(xs):
    <|cursor|>
<|raw|>
    total = sum(xs)
    return total / len(xs)


class Stats:

<|expected|>
total = sum(xs)
    return total / len(xs)
<|end|>
