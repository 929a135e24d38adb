//! HTML routes and their template contexts.

use rocket::{Route, State};
use rocket_dyn_templates::{context, Template};

use crate::clerk::Clerk;

#[rocket::get("/")]
fn index(clerk: &State<Clerk>) -> Template {
    let config = &clerk.config;
    Template::render(
        "index",
        context! {
            local_mode: config.local_mode(),
            issuer: &config.instance.issuer,
        },
    )
}

pub fn routes() -> Vec<Route> {
    rocket::routes![index]
}
