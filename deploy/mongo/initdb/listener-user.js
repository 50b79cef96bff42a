// The worker's own MongoDB user, made once: the mongo image runs this folder on its first start
// (an empty data volume), as the root user it created from MONGO_INITDB_ROOT_*_FILE.
// The user may read and write the `listener` database and nothing else. Its password is the
// secret file mongo_listener_password; the listener's secret mongodb_uri holds the same one:
//   mongodb://listener:PASSWORD@mongo:27017/listener
const fs = require("fs");

const passwordFile = "/run/secrets/mongo_listener_password";
const password = fs.readFileSync(passwordFile, "utf8").trim();
if (!password) {
  throw new Error(`${passwordFile} is empty`);
}
db.getSiblingDB("listener").createUser({
  user: "listener",
  pwd: password,
  roles: [{ role: "readWrite", db: "listener" }],
});
