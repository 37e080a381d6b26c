import { a } from "./a";
import { b } from "./b";
<|cursor|>
<|raw|>
import { b } from "./b";
<|expected|>

<|end|>
