const ids = items.map(<|cursor|>);
<|raw|>
(item) => item.id);
<|expected|>
(item) => item.id
<|end|>
