pub async fn query() -> axum::http::StatusCode {
    axum::http::StatusCode::NOT_IMPLEMENTED
}
