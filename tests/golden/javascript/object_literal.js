const options = {
  <|cursor|>
};
<|raw|>
  verbose: true,
  retries: 3,
};
module.exports = options;

<|expected|>
verbose: true,
  retries: 3,
<|end|>
