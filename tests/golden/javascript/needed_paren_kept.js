const n = parseInt(value<|cursor|>;
<|raw|>
, 10);
<|expected|>
, 10)
<|end|>
