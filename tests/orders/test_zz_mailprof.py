import cProfile
import io
import pstats
import time

from tests.factories import add_product, codes
from tests.orders.support import fund_wallet
from tests.orders.test_delivery_mail_batch import _bought, _run_job, smtp  # noqa: F401


def test_mailprof(app, smtp, make_shop, make_account):  # noqa: F811
    shop = make_shop("mailer", "Mailer")
    product_id = add_product(app, shop, stock=codes("MAIL", 200), price=100)
    buyer = make_account(shop, "reader@example.com")
    fund_wallet(app, shop, buyer.id, 1_000_000)
    ids = _bought(app, shop, product_id, buyer, 51)
    _run_job(app, shop, ids[0])  # warm: sends 51
    ids = _bought(app, shop, product_id, buyer, 51)
    prof = cProfile.Profile(time.process_time)
    c0, t0 = time.process_time(), time.perf_counter()
    prof.enable()
    assert _run_job(app, shop, ids[0]) == "sent"
    prof.disable()
    print(
        f"\n51 mails: cpu {(time.process_time() - c0) * 1000:.1f} ms wall {(time.perf_counter() - t0) * 1000:.1f} ms (profiled)"
    )
    ids = _bought(app, shop, product_id, buyer, 51)
    c0, t0 = time.process_time(), time.perf_counter()
    assert _run_job(app, shop, ids[0]) == "sent"
    print(
        f"51 mails: cpu {(time.process_time() - c0) * 1000:.1f} ms wall {(time.perf_counter() - t0) * 1000:.1f} ms"
    )
    out = io.StringIO()
    st = pstats.Stats(prof, stream=out)
    st.sort_stats("cumulative").print_stats(60)
    open("/tmp/prof_mail.txt", "w").write(out.getvalue())
    prof.dump_stats("/tmp/prof_mail.prof")
