export function Hello(props: { name: string }) {
  return <div><|cursor|></div>;
}
<|raw|>
Hello, {props.name}</div>;
<|expected|>
Hello, {props.name}
<|end|>
