console.log(<|cursor|>);
<|raw|>
"done");
<|expected|>
"done"
<|end|>
