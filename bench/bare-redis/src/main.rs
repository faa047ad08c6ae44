//! A bare actix-web server whose every `GET /{anything}` answers the value of
//! one Redis key with one `GET`: the floor under Tanba's cached scan, on the
//! same machine, with the same framework and the same Redis.
//!
//! `bare-redis ADDR REDIS_URL KEY`

use actix_web::{App, HttpResponse, HttpServer, web};
use redis::AsyncCommands as _;

struct State {
    redis: redis::aio::ConnectionManager,
    key: String,
}

async fn answer(state: web::Data<State>) -> HttpResponse {
    let mut redis = state.redis.clone();
    match redis.get::<_, Option<Vec<u8>>>(&state.key).await {
        Ok(Some(body)) => HttpResponse::Ok().content_type("application/json").body(body),
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(url), Some(key)) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: bare-redis ADDR REDIS_URL KEY");
        std::process::exit(2);
    };
    let client = redis::Client::open(url).map_err(std::io::Error::other)?;
    let redis = redis::aio::ConnectionManager::new(client)
        .await
        .map_err(std::io::Error::other)?;
    let state = web::Data::new(State { redis, key });
    HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .default_service(web::get().to(answer))
    })
    .bind(addr)?
    .run()
    .await
}
