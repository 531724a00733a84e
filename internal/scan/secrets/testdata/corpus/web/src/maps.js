// Map widget configuration (fake keys, for scanner tests).
export const mapsKey = "AIzaqhroYOgz4VlonY1EKNDZuDyOWHVXa3NXGOZ";
const twilioKeySid = "SK575566ab7e3f68719640380c0ab16760";
const checksum = "7e94476d62556cc8501e3df5b8d6470d";
const sessionId = "e1136e49-b0d7-4c84-80b2-0e17a0a14c5b";
export function load() { return fetch(`/maps?key=${mapsKey}&sid=${twilioKeySid}`); }
