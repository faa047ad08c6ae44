# Refused lifecycle transitions, in Russian. Keys are `lifecycle-` and the machine code.
lifecycle-blocked = Код заблокирован инспектором: его нельзя продать или переместить.
lifecycle-not-blocked = Код не заблокирован.
lifecycle-already-blocked = Код уже заблокирован.
lifecycle-not-applied = Код ещё не нанесён на товар.
lifecycle-already-applied = Код уже нанесён на товар.
lifecycle-already-introduced = Код уже введён в оборот.
lifecycle-not-in-circulation = Код не находится в обороте.
lifecycle-already-sold = Товар с этим кодом уже продан.
lifecycle-already-retired = Код выведен из оборота.
lifecycle-written-off = Код списан.
lifecycle-not-sold = Вернуть можно только код, проданный в розницу.
lifecycle-in-circulation = Код в обороте не списывают, а выводят из оборота.
