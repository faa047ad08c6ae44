# Emission orders and idempotency, in Kazakh.
error-order-bad-gtin = GTIN дұрыс емес: { $detail }
error-order-bad-quantity = Кодтар саны 1-ден { $max }-ге дейін болуы керек (берілгені: { $quantity }).
error-order-bad-release-method = Айналымға шығару тәсілі «production» (өндіріс) немесе «import» (импорт) болуы керек.
error-order-unknown-gtin = { $gtin } GTIN тауарлар каталогында тіркелмеген.
error-order-foreign-gtin = { $gtin } GTIN басқа қатысушыға тиесілі: оған код тапсырыс беруге болмайды.
error-order-bad-page = Бет нөмірі 0-ден басталады, бет өлшемі 1-ден { $max }-ге дейін.
error-idempotency-key-required = Idempotency-Key тақырыбы қажет: ол сұрау қайталанғанда екі рет орындалмауына кепілдік береді.
error-idempotency-key-invalid = Idempotency-Key ең көбі { $max } басылатын ASCII таңбасынан тұруы керек.
error-idempotency-key-reused = Бұл Idempotency-Key басқа сұрауға қолданылған. Жаңа сұрау үшін жаңа кілт беріңіз.
