import cProfile
import io
import pstats
import time
import uuid

from tests.factories import add_product, codes
from tests.orders.support import fund_wallet, order_body
from tests.orders.test_wallet_purchase import signed_in


def test_profile(app, make_shop, browser_for, make_account):
    app.config["ORDER_CREATE_RATE_LIMIT"] = "1000000 per minute"
    from app.extensions import limiter

    limiter.init_app(app)
    shop = make_shop("alpha", "Alpha")
    stock = codes("STEAM", 700)
    pid = add_product(app, shop, stock=stock, price=100)
    account = make_account(shop, "mei@example.com")
    fund_wallet(app, shop, account.id, 10_000_000)
    browser, csrf = signed_in(browser_for, shop, account.email)

    def one():
        r = browser.post(
            "/api/v1/orders",
            json=order_body(pid, 1, email=account.email, pay="wallet"),
            headers={"Idempotency-Key": uuid.uuid4().hex, **csrf},
        )
        assert r.status_code == 201, r.get_data(as_text=True)

    for _ in range(50):
        one()
    n = 500
    t = time.perf_counter()
    c0 = time.process_time()
    for _ in range(n):
        one()
    el = time.perf_counter() - t
    cpu = time.process_time()
    print(f"\nplain: {el / n * 1000:.2f} ms/request, cpu {(cpu - c0) / n * 1000:.2f} ms")
    prof = cProfile.Profile(time.process_time)
    prof.enable()
    for _ in range(100):
        one()
    prof.disable()
    out = io.StringIO()
    st = pstats.Stats(prof, stream=out)
    st.sort_stats("cumulative").print_stats(70)
    st.sort_stats("tottime").print_stats(40)
    open("/tmp/prof_checkout.txt", "w").write(out.getvalue())
    prof.dump_stats("/tmp/prof_checkout.prof")
