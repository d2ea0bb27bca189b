//! Set-up shared by the engine's integration tests.

use std::path::Path;

/// A store in `dir/store` holding an empty `telegraf` database.
pub async fn telegraf_store(dir: &Path) -> tsdb::Store {
    let store =
        tsdb::Store::open(&dir.join("store"), tsdb::StoreOptions::default()).expect("store");
    store.create_database("telegraf").await.expect("db");
    store
}
