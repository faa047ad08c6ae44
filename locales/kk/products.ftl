# Тауарлар каталогы, қазақша: API қателері (error-) және форматтық-логикалық
# бақылаудың осы каталогқа тән ережелері (field-). Жалпы ережелер (field-required,
# field-too-long, field-not-text, …) auth.ftl файлында. Өрістің өзі жауаптың
# details[].field мәнінде аталады.

error-product-exists = { $gtin } GTIN сізде тіркелген. Карточканы өзгерту үшін PUT /v1/products/{ $gtin } пайдаланыңыз.
error-gtin-taken = { $gtin } GTIN басқа қатысушыда тіркелген.
error-product-not-found = Мұндай GTIN бар тауар каталогта жоқ.
error-not-product-owner = Бұл тауар карточкасы басқа қатысушыға тиесілі.
error-invalid-gtin = GTIN дұрыс емес: бақылау цифры дұрыс 14 цифр болуы керек.

field-not-number = Сан болуы керек.
field-one-of = Рұқсат етілген мәндер: { $allowed }.
field-gtin-format = GTIN дәл 14 цифрдан тұруы керек.
field-gtin-check-digit = GTIN бақылау цифры { $found } қате, { $expected } болуы керек.
field-gtin-mismatch = Денедегі GTIN сілтемедегі { $expected } GTIN-мен сәйкес келмейді.
field-unknown-product-group = «{ $value }» тауар тобы анықтамалықта жоқ.
field-unknown-tnved = «{ $value }» СЭҚ ТН коды анықтамалықта жоқ.
field-tnved-not-in-group = { $value } СЭҚ ТН коды «{ $group }» тобына жатады, ал көрсетілген топ — «{ $expected }».
field-unknown-country = «{ $value }» елі анықтамалықта жоқ (ISO 3166-1 alpha-2 коды керек, мысалы, KZ).
field-both-or-neither = «{ $other }» өрісімен бірге толтырылуы керек.
field-date-format = ЖЖЖЖ-АА-КК пішіміндегі нақты күн болуы керек.
field-date-in-future = { $value } күні әлі келген жоқ.
field-price-format = Баға теңгемен, нүктеден кейін ең көбі екі цифрмен берілуі керек (мысалы, 1250.50).
field-not-positive = Мән нөлден үлкен болуы керек, берілгені: { $value }.
field-price-too-large = Баға тым үлкен: ең көбі { $max } теңге.
field-https-url = https:// деп басталатын толық сілтеме болуы керек.
