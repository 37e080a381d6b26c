interface User {
  <|cursor|>
}
<|raw|>
  id: number;
  name: string;
}

export default User;
<|expected|>
id: number;
  name: string;
<|end|>
