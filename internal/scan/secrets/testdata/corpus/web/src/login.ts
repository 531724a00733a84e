// Login form: reads secrets from the environment, holds none.
const password = getPassword();
export const config = {
  apiKey: process.env.ORDERS_API_KEY,
  authToken: localStorage.getItem("authToken"),
  secretArn: `arn:aws:secretsmanager:${region}:${account}:secret:orders`,
  tokenExpiry: 3600,
};
