const a = require("a");
const b = require("b");
<|cursor|>
<|raw|>
const b = require("b");

<|expected|>

<|end|>
